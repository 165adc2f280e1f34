package io.diffuse.distribution;

import static org.ops4j.pax.exam.CoreOptions.bundle;

import java.nio.file.Path;
import org.ops4j.pax.exam.Option;

/**
 * The strategy bundle the hot-swap tests configure, uninstall and reinstall: the shipped plugin-usp
 * bundle and its "ring" strategy. (To test another strategy bundle, change these two lines, e.g.
 * {@code TestBundles.thirdParty()} and "allgather"; the third-party bundle has its own hot-deploy test.)
 */
final class StrategyUnderTest {
    static final Path BUNDLE = TestBundles.shipped("plugin-usp");
    static final String NAME = "ring";

    /** The option that installs {@link #BUNDLE} at boot: none when it ships (every shipped bundle is installed already). */
    static Option[] bootOptions() {
        return TestBundles.shipped().contains(BUNDLE) ? new Option[0] : new Option[] {bundle(BUNDLE.toUri().toString())};
    }

    private StrategyUnderTest() {
    }
}
