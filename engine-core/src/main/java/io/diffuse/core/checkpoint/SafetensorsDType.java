package io.diffuse.core.checkpoint;

import io.diffuse.api.runtime.DType;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Element types a safetensors header may name, with their torch type and width in bytes. */
enum SafetensorsDType {
    F64("F64", ScalarType.Double, 8),
    F32("F32", ScalarType.Float, 4),
    F16("F16", ScalarType.Half, 2),
    BF16("BF16", ScalarType.BFloat16, 2),
    I64("I64", ScalarType.Long, 8),
    I32("I32", ScalarType.Int, 4),
    I16("I16", ScalarType.Short, 2),
    I8("I8", ScalarType.Char, 1),
    U8("U8", ScalarType.Byte, 1),
    BOOL("BOOL", ScalarType.Bool, 1);

    final String code;
    final ScalarType scalarType;
    final int bytes;

    SafetensorsDType(String code, ScalarType scalarType, int bytes) {
        this.code = code;
        this.scalarType = scalarType;
        this.bytes = bytes;
    }

    /** Floating types a model checkpoint may be stored in and converted from. */
    boolean isFloating() {
        return this == F64 || this == F32 || this == F16 || this == BF16;
    }

    static SafetensorsDType ofCode(String code) {
        for (SafetensorsDType d : values()) {
            if (d.code.equals(code)) {
                return d;
            }
        }
        return null;
    }

    static SafetensorsDType of(ScalarType type) {
        for (SafetensorsDType d : values()) {
            if (d.scalarType.value == type.value) {
                return d;
            }
        }
        return null;
    }

    static String supportedCodes() {
        StringBuilder sb = new StringBuilder();
        for (SafetensorsDType d : values()) {
            sb.append(sb.length() == 0 ? "" : ", ").append(d.code);
        }
        return sb.toString();
    }
}
