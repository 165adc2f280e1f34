package io.diffuse.api.model;

/** What a generation request asks for. */
public enum Task {
    TEXT_TO_VIDEO, IMAGE_TO_VIDEO
}
