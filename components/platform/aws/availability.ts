// Where the lab can run: the first availability zone of the region that offers every instance
// type the lab launches, asked (DescribeInstanceTypeOfferings) when the program starts, before any
// resource that costs anything exists, so a type missing in the zone is a clear error up front
// rather than one failed launch among twenty-nine. Pure; awsPlatform.ts asks AWS.
import { ConfigError } from "../../config.ts";

/** What DescribeInstanceTypeOfferings answers per location: parallel lists of types and zones. */
export interface Offerings {
    instanceTypes: string[];
    locations: string[];
}

/**
 * The first of `zones` (the region's order) that offers every type in `types` (by role);
 * refuses, naming each type and where it is offered, when no zone offers them all.
 */
export function chooseAvailabilityZone(region: string, zones: string[], offerings: Offerings, types: Record<string, string>): string {
    const where = new Map<string, Set<string>>();
    offerings.instanceTypes.forEach((type, i) => {
        if (!where.has(type)) where.set(type, new Set());
        where.get(type)!.add(offerings.locations[i]);
    });
    const wanted = [...new Set(Object.values(types))];
    const zone = zones.find((z) => wanted.every((t) => where.get(t)?.has(z)));
    if (zone) return zone;
    const offeredIn = (type: string) => {
        const z = zones.filter((x) => where.get(type)?.has(x));
        return z.length ? `offered in ${z.join(", ")}` : `not offered in any zone of ${region}`;
    };
    throw new ConfigError([
        `c2m:aws.instanceTypes: no availability zone of ${region} (${zones.join(", ") || "none available"}) offers every type the lab launches: ` +
            Object.entries(types)
                .map(([role, type]) => `${role} ${type} ${offeredIn(type)}`)
                .join("; ") +
            `; choose types offered together, or another c2m:aws.region`,
    ]);
}
