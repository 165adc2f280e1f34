package io.diffuse.core.registry;

import io.diffuse.api.NotInstalledException;
import io.diffuse.api.cache.StepCachePolicy;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.vae.VaeExecutor;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * What is installed: model providers, parallel strategies, VAE executors and step-cache policies, each with the bundle
 * (or jar) it came from. Two implementations: {@link ServiceLoaderRegistry} without OSGi (unit
 * tests, plain class path) and the Declarative Services one inside Felix, which follows bundles
 * coming and going.
 */
public interface PluginRegistry {
    /** One installed service. */
    record Installed<T>(String name, String description, String origin, T service) {
    }

    /** Installed parallel strategies, sorted by name. */
    List<Installed<ParallelStrategy>> strategies();

    /** Installed VAE executors, sorted by name. */
    List<Installed<VaeExecutor>> vaeExecutors();

    /** Installed model providers, sorted by family. */
    List<Installed<ModelProvider>> models();

    /** Installed step-cache policies, sorted by name ("none" is built in and not listed); none by default. */
    default List<Installed<StepCachePolicy>> cachePolicies() {
        return List.of();
    }

    /** The strategy called {@code name}; {@link NotInstalledException} listing the installed ones otherwise. */
    default ParallelStrategy strategy(String name) {
        return find(strategies(), name, "parallel strategy");
    }

    /** The VAE executor called {@code name}. */
    default VaeExecutor vaeExecutor(String name) {
        return find(vaeExecutors(), name, "VAE executor");
    }

    /** The step-cache policy called {@code name}; "none" is built in (no caching). */
    default StepCachePolicy cachePolicy(String name) {
        if (name.equals(StepCachePolicy.NONE)) {
            return StepCachePolicy.none();
        }
        List<Installed<StepCachePolicy>> installed = cachePolicies();
        return installed.stream().filter(i -> i.name().equals(name)).findFirst().map(Installed::service).orElseThrow(
                () -> new NotInstalledException("step-cache policy", name, java.util.stream.Stream.concat(
                        java.util.stream.Stream.of(StepCachePolicy.NONE), installed.stream().map(Installed::name)).toList()));
    }

    /** The model provider of family {@code family}. */
    default ModelProvider model(String family) {
        return find(models(), family, "model provider");
    }

    /** Class loaders of every installed service, so each bundle's reference.conf joins the configuration. */
    default List<ClassLoader> classLoaders() {
        return java.util.stream.Stream.of(strategies(), vaeExecutors(), models(), cachePolicies())
                .flatMap(List::stream)
                .map(i -> i.service().getClass().getClassLoader())
                .distinct()
                .toList();
    }

    private static <T> T find(List<Installed<T>> installed, String name, String kind) {
        Optional<Installed<T>> hit = installed.stream().filter(i -> i.name().equals(name)).findFirst();
        return hit.map(Installed::service).orElseThrow(
                () -> new NotInstalledException(kind, name, installed.stream().map(Installed::name).toList()));
    }

    /** Where a service class came from when there is no bundle: its module or jar name. */
    static String originOf(Class<?> type) {
        Module module = type.getModule();
        if (module.isNamed()) {
            return module.getName();
        }
        var source = type.getProtectionDomain().getCodeSource();
        if (source == null || source.getLocation() == null) {
            return "class path";
        }
        String path = source.getLocation().getPath();
        return path.substring(path.replaceAll("/$", "").lastIndexOf('/') + 1);
    }

    /** Sorts and wraps services. */
    static <T> List<Installed<T>> wrap(List<T> services, Function<T, String> name, Function<T, String> description,
            Function<T, String> origin) {
        return services.stream()
                .map(s -> new Installed<>(name.apply(s), description.apply(s), origin.apply(s), s))
                .sorted(java.util.Comparator.comparing(Installed::name))
                .toList();
    }
}
