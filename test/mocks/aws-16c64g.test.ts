// Mocks test of stack aws-16c64g (own file: the program module is imported once per process).
import { describeTier } from "./awsTier.ts";

describeTier({ stack: "aws-16c64g", haproxyType: "m6i.4xlarge", ttlHours: 4, connections: 1_050_000 });
