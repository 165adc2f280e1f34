package io.diffuse.distribution;

import java.nio.file.Path;

/**
 * The strategy bundle the hot-swap tests install, configure, uninstall and reinstall. Today the
 * test-only third-party "allgather" bundle; to test a shipped strategy instead, change these two
 * lines (e.g. {@code TestBundles.shipped("plugin-usp")} and "ring").
 */
final class StrategyUnderTest {
    static final Path BUNDLE = TestBundles.thirdParty();
    static final String NAME = "allgather";

    private StrategyUnderTest() {
    }
}
