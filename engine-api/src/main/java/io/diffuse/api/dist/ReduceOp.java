package io.diffuse.api.dist;

/** Element-wise reduction of an all-reduce. */
public enum ReduceOp {
    SUM, MAX, MIN, PRODUCT
}
