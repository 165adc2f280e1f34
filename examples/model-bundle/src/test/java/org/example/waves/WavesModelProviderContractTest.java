package org.example.waves;

import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.testkit.SingleRankContext;
import io.diffuse.testkit.contract.ModelProviderContract;

/** A plugin author's test: subclass the engine-testkit contract, say how to build and call the provider. */
class WavesModelProviderContractTest extends ModelProviderContract {
    private final RuntimeContext context = new SingleRankContext(DType.FP32);

    @Override
    protected ModelProvider provider() {
        return new WavesModelProvider();
    }

    @Override
    protected RuntimeContext context() {
        return context;
    }

    @Override
    protected GenerationRequest smallRequest(long seed) {
        return GenerationRequest.builder().prompt("waves").size(32, 48).numFrames(5).numInferenceSteps(3).guidanceScale(1.0)
                .seed(seed).build();
    }
}
