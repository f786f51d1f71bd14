// Mocks test of stack aws-16c30g (own file: the program module is imported once per process).
import { describeTier } from "./awsTier.ts";

describeTier({ stack: "aws-16c30g", haproxyType: "c6i.4xlarge", ttlHours: 4, connections: 1_050_000 });
