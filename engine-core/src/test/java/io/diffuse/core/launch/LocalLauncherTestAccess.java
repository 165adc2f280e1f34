package io.diffuse.core.launch;

/** Test access to the launcher's port picking. */
public final class LocalLauncherTestAccess {
    private LocalLauncherTestAccess() {
    }

    public static int freePort() {
        return LocalLauncher.freePort("127.0.0.1");
    }
}
