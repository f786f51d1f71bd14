// The c2m-lab policy pack: `pulumi preview|up --stack aws-… --policy-pack policy`.
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./policies.ts";

new PolicyPack("c2m-lab-guardrails", {
    description: "c2m-lab guardrails: TTL tags, no SSH from the internet, IMDSv2, budget cap, AWS string limits",
    enforcementLevel: "mandatory",
    policies: POLICIES,
});
