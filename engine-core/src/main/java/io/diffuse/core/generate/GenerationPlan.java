package io.diffuse.core.generate;

import com.typesafe.config.Config;
import io.diffuse.core.config.EngineSettings;
import io.diffuse.core.config.LayeredConfig;
import io.diffuse.core.model.ModelResolver.ResolvedModel;

/**
 * A generation checked before any rank starts: the effective configuration (the user's layers over
 * the model's built-in defaults over the references), the engine settings, the request and the
 * model provider that serves it. Every rank builds the same plan from the same inputs.
 */
public record GenerationPlan(LayeredConfig layers, EngineSettings settings, GenerateSettings generate, ResolvedModel model) {
    /** The effective configuration. */
    public Config config() {
        return settings.config();
    }
}
