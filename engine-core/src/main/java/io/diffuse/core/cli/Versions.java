package io.diffuse.core.cli;

import org.bytedeco.pytorch.Tensor;

/** Version strings from jar manifests. */
final class Versions {
    private Versions() {
    }

    static String diffuse() {
        String v = Versions.class.getPackage().getImplementationVersion();
        return v != null ? v : readResourceVersion();
    }

    static String pytorchPresets() {
        String v = Tensor.class.getPackage().getImplementationVersion();
        return "JavaCPP PyTorch presets " + (v != null ? v : "(version unknown)");
    }

    private static String readResourceVersion() {
        try (var in = Versions.class.getResourceAsStream("/io/diffuse/core/version.properties")) {
            if (in == null) {
                return "(development build)";
            }
            var p = new java.util.Properties();
            p.load(in);
            return p.getProperty("version", "(development build)");
        } catch (java.io.IOException e) {
            return "(development build)";
        }
    }
}
