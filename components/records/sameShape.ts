/**
 * True when A and B accept exactly the same values. A schema that mirrors a type declared
 * elsewhere states `true satisfies SameShape<z.infer<typeof Schema>, Type>`, so the two
 * cannot drift apart without a compile error.
 */
export type SameShape<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
