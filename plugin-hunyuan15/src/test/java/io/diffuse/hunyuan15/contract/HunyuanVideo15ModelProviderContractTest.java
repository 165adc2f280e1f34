package io.diffuse.hunyuan15.contract;

import io.diffuse.api.model.GenerationRequest;
import io.diffuse.api.model.ModelProvider;
import io.diffuse.api.runtime.DType;
import io.diffuse.api.runtime.RuntimeContext;
import io.diffuse.api.vae.TilingSettings;
import io.diffuse.core.local.LocalVaeExecutor;
import io.diffuse.hunyuan15.HunyuanVideo15ModelProvider;
import io.diffuse.testkit.SingleRankContext;
import io.diffuse.testkit.contract.ModelProviderContract;

/** The hunyuanvideo-1.5 family (its built-in demo) against the model provider contract. */
class HunyuanVideo15ModelProviderContractTest extends ModelProviderContract {
    private final RuntimeContext context = new SingleRankContext(DType.FP32, new LocalVaeExecutor(), TilingSettings.defaults(false));

    @Override
    protected ModelProvider provider() {
        return new HunyuanVideo15ModelProvider();
    }

    @Override
    protected RuntimeContext context() {
        return context;
    }

    @Override
    protected GenerationRequest smallRequest(long seed) {
        return GenerationRequest.builder().prompt("a fox").size(32, 32).numFrames(5).numInferenceSteps(2).guidanceScale(1.0).seed(seed)
                .build();
    }
}
