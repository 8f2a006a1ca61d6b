package ai.bakery.data.group;

import ai.bakery.data.plan.ImagePreparer;

/** Builds a group's image transform from its {@code image_transform_args}-style settings. */
@FunctionalInterface
public interface TransformFactory {
  ImagePreparer create(TransformArgs args);
}
