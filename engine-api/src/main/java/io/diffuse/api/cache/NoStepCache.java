package io.diffuse.api.cache;

import java.util.List;

/** "none": every forward runs every block; records no decisions. */
final class NoStepCache implements StepCache {
    static final StepCachePolicy POLICY = new StepCachePolicy() {
        @Override
        public String name() {
            return NONE;
        }

        @Override
        public String description() {
            return "no step caching: every block runs at every step";
        }

        @Override
        public StepCache create(CacheRun run) {
            return new NoStepCache();
        }
    };

    @Override
    public BlockStates forward(CacheStep step, BlockStates input, BlockStack blocks) {
        return blocks.run(0, blocks.size(), input);
    }

    @Override
    public List<CacheDecision> decisions() {
        return List.of();
    }

    @Override
    public void close() {
    }
}
