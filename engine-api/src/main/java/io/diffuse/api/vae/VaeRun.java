package io.diffuse.api.vae;

import io.diffuse.api.dist.ProcessGroups;

/**
 * How one encode or decode should run.
 *
 * @param tiling tile geometry (ignored by executors that do not tile)
 * @param groups process groups of this run; a single-rank run has groups of size 1
 * @param resultOnAllRanks whether every rank needs the full result, or only world rank 0
 */
public record VaeRun(TilingSettings tiling, ProcessGroups groups, boolean resultOnAllRanks) {
}
