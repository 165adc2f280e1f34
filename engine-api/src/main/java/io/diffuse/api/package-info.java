/**
 * Diffuse engine API: the extension points a plugin bundle implements and the value types that
 * cross bundle boundaries. Nothing here has an implementation of its own.
 *
 * <ul>
 *   <li>{@link io.diffuse.api.model} – model providers, pipelines, component runners, requests.</li>
 *   <li>{@link io.diffuse.api.parallel} – sequence-parallel strategies and their attention.</li>
 *   <li>{@link io.diffuse.api.vae} – VAE executors and the tile-capable VAE they drive.</li>
 *   <li>{@link io.diffuse.api.dist} – process groups, collectives and their byte accounting.</li>
 *   <li>{@link io.diffuse.api.cache} – step-cache policies (skipping transformer blocks between steps).</li>
 *   <li>{@link io.diffuse.api.checkpoint} – strict diffusers-layout checkpoint reading.</li>
 *   <li>{@link io.diffuse.api.runtime} – what the engine hands a plugin at run time.</li>
 * </ul>
 */
package io.diffuse.api;
