/**
 * Step caching: {@link io.diffuse.api.cache.StepCachePolicy} services decide, per denoising step and
 * guidance branch, whether a transformer's remaining blocks run or a cached residual is reused.
 */
package io.diffuse.api.cache;
