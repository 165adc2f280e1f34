package io.diffuse.api.embed;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Service interface the engine implements for {@link Diffuse} (found with {@link java.util.ServiceLoader});
 * applications use {@link Diffuse}, not this.
 */
public interface EngineFactory {
    /** What {@link Diffuse.Builder} collected. */
    record Spec(Optional<Path> configFile, Map<String, Object> settings, Map<String, String> environment) {
    }

    /** Builds an engine on this rank. */
    DiffuseEngine create(Spec spec);

    /** See {@link Diffuse#launchLocalRanks}. */
    int launchLocalRanks(int nproc, String mainClass, List<String> args);
}
