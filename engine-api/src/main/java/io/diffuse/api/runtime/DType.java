package io.diffuse.api.runtime;

/** Compute dtype of a run. Storage dtypes of checkpoints are converted to it on load. */
public enum DType {
    FP32("fp32"), BF16("bf16"), FP16("fp16");

    private final String label;

    DType(String label) {
        this.label = label;
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
