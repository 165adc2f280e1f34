package io.diffuse.core.registry;

import io.diffuse.api.cache.StepCachePolicy;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.parallel.ParallelStrategy;
import io.diffuse.api.vae.VaeExecutor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * The registry inside OSGi: Declarative Services binds every {@link ParallelStrategy},
 * {@link VaeExecutor}, {@link ModelProvider} and {@link StepCachePolicy} service as it comes and unbinds it as its bundle
 * stops or is uninstalled (dynamic, multiple, greedy references), so a lookup always sees what is
 * installed right now. The origin of each service is the symbolic name and version of the bundle that
 * registered it, e.g. {@code io.diffuse.usp 0.1.0}.
 */
@Component(service = PluginRegistry.class, immediate = true)
public final class OsgiRegistry implements PluginRegistry {
    private final Map<ServiceReference<?>, Installed<ParallelStrategy>> strategies = new ConcurrentHashMap<>();
    private final Map<ServiceReference<?>, Installed<VaeExecutor>> vaeExecutors = new ConcurrentHashMap<>();
    private final Map<ServiceReference<?>, Installed<ModelProvider>> models = new ConcurrentHashMap<>();
    private final Map<ServiceReference<?>, Installed<StepCachePolicy>> cachePolicies = new ConcurrentHashMap<>();

    @Reference(name = "strategy", cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindStrategy(ServiceReference<ParallelStrategy> ref, ParallelStrategy strategy) {
        strategies.put(ref, new Installed<>(strategy.name(), strategy.description(), originOf(ref), strategy));
    }

    void unbindStrategy(ServiceReference<ParallelStrategy> ref) {
        strategies.remove(ref);
    }

    @Reference(name = "vaeExecutor", cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindVaeExecutor(ServiceReference<VaeExecutor> ref, VaeExecutor executor) {
        vaeExecutors.put(ref, new Installed<>(executor.name(), executor.description(), originOf(ref), executor));
    }

    void unbindVaeExecutor(ServiceReference<VaeExecutor> ref) {
        vaeExecutors.remove(ref);
    }

    @Reference(name = "model", cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindModel(ServiceReference<ModelProvider> ref, ModelProvider provider) {
        models.put(ref, new Installed<>(provider.family(), provider.description(), originOf(ref), provider));
    }

    void unbindModel(ServiceReference<ModelProvider> ref) {
        models.remove(ref);
    }

    @Reference(name = "cachePolicy", cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindCachePolicy(ServiceReference<StepCachePolicy> ref, StepCachePolicy policy) {
        cachePolicies.put(ref, new Installed<>(policy.name(), policy.description(), originOf(ref), policy));
    }

    void unbindCachePolicy(ServiceReference<StepCachePolicy> ref) {
        cachePolicies.remove(ref);
    }

    @Override
    public List<Installed<ParallelStrategy>> strategies() {
        return sorted(strategies);
    }

    @Override
    public List<Installed<VaeExecutor>> vaeExecutors() {
        return sorted(vaeExecutors);
    }

    @Override
    public List<Installed<ModelProvider>> models() {
        return sorted(models);
    }

    @Override
    public List<Installed<StepCachePolicy>> cachePolicies() {
        return sorted(cachePolicies);
    }

    /** "symbolic-name version" of the bundle that registered {@code ref}. */
    static String originOf(ServiceReference<?> ref) {
        Bundle bundle = ref.getBundle();
        return bundle == null ? "(unregistered)" : bundle.getSymbolicName() + " " + bundle.getVersion();
    }

    private static <T> List<Installed<T>> sorted(Map<ServiceReference<?>, Installed<T>> byRef) {
        List<Installed<T>> list = new ArrayList<>(byRef.values());
        list.sort(java.util.Comparator.comparing((Function<Installed<T>, String>) Installed::name)
                .thenComparing(Installed::origin));
        return List.copyOf(list);
    }
}
