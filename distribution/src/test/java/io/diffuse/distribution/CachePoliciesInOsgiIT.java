package io.diffuse.distribution;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import io.diffuse.api.cache.StepCachePolicy;
import io.diffuse.core.registry.PluginRegistry.Installed;
import java.util.List;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/** The shipped plugin-cache bundle registers its step-cache policies as DS services the registry finds by name. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class CachePoliciesInOsgiIT extends OsgiTestSupport {
    @Test
    public void shippedPoliciesAreInTheRegistryWithTheirBundle() throws Exception {
        await("step-cache policies in the registry", () -> registry.cachePolicies().size() == 2);
        List<Installed<StepCachePolicy>> installed = registry.cachePolicies();
        assertEquals(List.of("first-block", "mag-cache"), installed.stream().map(Installed::name).toList());
        for (Installed<StepCachePolicy> policy : installed) {
            assertTrue("origin names plugin-cache's bundle: " + policy.origin(), policy.origin().startsWith("io.diffuse.cache "));
        }
        assertEquals("first-block", registry.cachePolicy("first-block").name());
        assertEquals("none", registry.cachePolicy("none").name());
    }
}
