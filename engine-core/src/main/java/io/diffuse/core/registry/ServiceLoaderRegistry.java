package io.diffuse.core.registry;

import io.diffuse.api.cache.StepCachePolicy;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.vae.VaeExecutor;
import java.util.List;
import java.util.ServiceLoader;

/**
 * The registry without OSGi: services listed in {@code META-INF/services} (or JPMS {@code provides})
 * on the class loader's path. Fixed at construction; unit tests and plain class-path runs use it.
 */
public final class ServiceLoaderRegistry implements PluginRegistry {
    private final List<Installed<ParallelStrategy>> strategies;
    private final List<Installed<VaeExecutor>> vaeExecutors;
    private final List<Installed<ModelProvider>> models;
    private final List<Installed<StepCachePolicy>> cachePolicies;

    /** Loads from {@code loader}. */
    public ServiceLoaderRegistry(ClassLoader loader) {
        strategies = PluginRegistry.wrap(load(ParallelStrategy.class, loader), ParallelStrategy::name,
                ParallelStrategy::description, s -> PluginRegistry.originOf(s.getClass()));
        vaeExecutors = PluginRegistry.wrap(load(VaeExecutor.class, loader), VaeExecutor::name,
                VaeExecutor::description, s -> PluginRegistry.originOf(s.getClass()));
        models = PluginRegistry.wrap(load(ModelProvider.class, loader), ModelProvider::family,
                ModelProvider::description, s -> PluginRegistry.originOf(s.getClass()));
        cachePolicies = PluginRegistry.wrap(load(StepCachePolicy.class, loader), StepCachePolicy::name,
                StepCachePolicy::description, s -> PluginRegistry.originOf(s.getClass()));
    }

    /** Loads from this class's loader. */
    public ServiceLoaderRegistry() {
        this(ServiceLoaderRegistry.class.getClassLoader());
    }

    private static <T> List<T> load(Class<T> type, ClassLoader loader) {
        // On the module path (bnd writes module-info without `uses`), ServiceLoader needs this declared.
        ServiceLoaderRegistry.class.getModule().addUses(type);
        return ServiceLoader.load(type, loader).stream().map(ServiceLoader.Provider::get).toList();
    }

    @Override
    public List<Installed<ParallelStrategy>> strategies() {
        return strategies;
    }

    @Override
    public List<Installed<VaeExecutor>> vaeExecutors() {
        return vaeExecutors;
    }

    @Override
    public List<Installed<ModelProvider>> models() {
        return models;
    }

    @Override
    public List<Installed<StepCachePolicy>> cachePolicies() {
        return cachePolicies;
    }
}
