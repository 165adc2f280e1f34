package io.diffuse.api.runtime;

import org.bytedeco.pytorch.global.torch.ScalarType;

/** Compute dtype of a run. Storage dtypes of checkpoints are converted to it on load. */
public enum DType {
    FP32("fp32", ScalarType.Float), BF16("bf16", ScalarType.BFloat16), FP16("fp16", ScalarType.Half);

    private final String label;
    private final ScalarType scalarType;

    DType(String label, ScalarType scalarType) {
        this.label = label;
        this.scalarType = scalarType;
    }

    /** libtorch's scalar type of this dtype (the one mapping every plugin uses). */
    public ScalarType scalarType() {
        return scalarType;
    }

    /** The configuration spelling: fp32, bf16 or fp16. */
    public String label() {
        return label;
    }

    /** Parses a configuration spelling. */
    public static DType parse(String s) {
        for (DType d : values()) {
            if (d.label.equalsIgnoreCase(s)) {
                return d;
            }
        }
        throw new IllegalArgumentException("unknown dtype '" + s + "'; allowed: fp32, bf16, fp16");
    }
}
