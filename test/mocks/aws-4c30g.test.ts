// Mocks test of stack aws-4c30g (own file: the program module is imported once per process).
import { describeTier } from "./awsTier.ts";

describeTier({ stack: "aws-4c30g", haproxyType: "r6i.xlarge", ttlHours: 4, connections: 1_050_000 });
