package io.diffuse.core.config;

import io.diffuse.api.config.PluginSettings;
import io.diffuse.core.registry.PluginRegistry;

/** Hands the effective configuration to every installed plugin's own check, before any rank starts. */
public final class PluginConfigurationCheck {
    private PluginConfigurationCheck() {
    }

    /** Runs each installed model provider's, strategy's and VAE executor's {@code checkConfiguration}. */
    public static void run(PluginRegistry registry, EngineSettings settings) {
        PluginSettings diffuse = PluginSettings.of("diffuse", settings.subtree("diffuse"));
        registry.models().forEach(i -> i.service().checkConfiguration(diffuse));
        registry.strategies().forEach(i -> i.service().checkConfiguration(diffuse));
        registry.vaeExecutors().forEach(i -> i.service().checkConfiguration(diffuse));
    }
}
