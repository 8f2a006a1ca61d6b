package ai.bakery.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.config.VaeConfig;
import ai.bakery.model.config.VitConfig;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.model.vae.LatentPatchify;
import ai.bakery.model.vit.SiglipVisionModel;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each adapter on a tiny checkpoint written in its source's own naming. */
class CheckpointAdaptersTest {
  @TempDir Path dir;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  private static void param(ParameterStore s, String name, long... shape) {
    s.create(name, new Shape(shape), Init.constant(new Shape(shape), 0f));
  }

  @Test
  void qwen2TiedEmbeddingsFillLmHeadAndCopyInitMoe() throws Exception {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore s = new ParameterStore(m)) {
      Path hf = Files.createDirectories(dir.resolve("qwen"));
      new SafetensorsWriter()
          .add("model.embed_tokens.weight", m.randomNormal(new Shape(10, 4)), Dtype.BF16)
          .add("model.layers.0.self_attn.q_proj.weight", m.randomNormal(new Shape(4, 4)), Dtype.BF16)
          .add("model.layers.0.self_attn.q_proj.bias", m.randomNormal(new Shape(4)), Dtype.BF16)
          .add("model.norm.weight", m.randomNormal(new Shape(4)), Dtype.BF16)
          .writeSharded(hf, "model", 100); // several shards with an index, as HF ships 7B
      assertTrue(Files.exists(hf.resolve("model.safetensors.index.json")));
      param(s, "language_model.model.embed_tokens.weight", 10, 4);
      param(s, "language_model.model.layers.0.self_attn.q_proj.weight", 4, 4);
      param(s, "language_model.model.layers.0.self_attn.q_proj.bias", 4);
      param(s, "language_model.model.layers.0.self_attn.q_proj_moe_gen.weight", 4, 4);
      param(s, "language_model.model.layers.0.self_attn.q_proj_moe_gen.bias", 4);
      param(s, "language_model.model.norm.weight", 4);
      param(s, "language_model.model.norm_moe_gen.weight", 4);
      param(s, "language_model.lm_head.weight", 10, 4);
      param(s, "connector.fc1.weight", 4, 4); // another part of the model: not this load's business

      LoadReport rep = PretrainedWeights.loadQwen2(hf, s, true, StateDictLoader.strict());
      assertEquals(8, rep.loaded().size());
      NDArray embed = s.get("language_model.model.embed_tokens.weight").value();
      assertArrayEquals(embed.toFloatArray(), s.get("language_model.lm_head.weight").value().toFloatArray());
      assertArrayEquals(s.get("language_model.model.norm.weight").value().toFloatArray(),
          s.get("language_model.model.norm_moe_gen.weight").value().toFloatArray());
      assertArrayEquals(s.get("language_model.model.layers.0.self_attn.q_proj.bias").value().toFloatArray(),
          s.get("language_model.model.layers.0.self_attn.q_proj_moe_gen.bias").value().toFloatArray());
      assertFalse(embed.abs().sum().getFloat() == 0);

      // Without copy_init_moe the gen weights are missing, by name.
      StateDictException e = assertThrows(StateDictException.class,
          () -> PretrainedWeights.loadQwen2(hf, s, false, StateDictLoader.strict()));
      assertTrue(e.getMessage().contains("q_proj_moe_gen.weight"), e.getMessage());

      // MoeInit on a loaded store does the same copy in place.
      s.get("language_model.model.norm_moe_gen.weight").copyFrom(m.zeros(new Shape(4)));
      assertEquals(3, MoeInit.copyUndToGen(s));
      assertArrayEquals(s.get("language_model.model.norm.weight").value().toFloatArray(),
          s.get("language_model.model.norm_moe_gen.weight").value().toFloatArray());
    }
  }

  @Test
  void qwen2TiedTargetIgnoresTheAlias() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore s = new ParameterStore(m)) {
      Path f = dir.resolve("model.safetensors");
      new SafetensorsWriter().add("model.embed_tokens.weight", m.ones(new Shape(3, 2)), Dtype.F32).write(f);
      param(s, "language_model.model.embed_tokens.weight", 3, 2);
      try (SafetensorsReader r = SafetensorsReader.open(f)) {
        LoadReport rep = StateDictLoader.strict().load(Qwen2HfAdapter.map(r.tensors()), s);
        assertTrue(rep.clean());
      }
    }
  }

  @Test
  void siglipConvPatchEmbeddingBecomesTheLinearOverPatchifiedPixels() throws Exception {
    // Tower of 3 layers in the HF file; BAGEL keeps 2 (vit_select_layer -2). Patch 2, 3 channels, hidden 8.
    VitConfig full = new VitConfig(8, 12, 3, 2, 3, 6, 2, "gelu_pytorch_tanh", 1e-6, 0.0, false);
    VitConfig kept = full.keepingLayersFor(-2);
    try (NDManager m = NDManager.newBaseManager(); ParameterStore s = new ParameterStore(m)) {
      SiglipVisionModel vit = new SiglipVisionModel(kept, s, "vit_model");
      SafetensorsWriter w = new SafetensorsWriter();
      NDArray conv = m.randomNormal(new Shape(8, 3, 2, 2));
      NDArray convBias = m.randomNormal(new Shape(8));
      w.add("vision_model.embeddings.patch_embedding.weight", conv, Dtype.F32);
      w.add("vision_model.embeddings.patch_embedding.bias", convBias, Dtype.F32);
      for (Parameter p : s.all().values()) {
        String hfName = p.name().substring("vit_model.".length());
        if (!hfName.startsWith("vision_model.embeddings.patch_embedding")) {
          w.add(hfName, m.randomNormal(p.value().getShape()), Dtype.F32);
        }
      }
      for (String extra : List.of("vision_model.encoder.layers.2.mlp.fc1.weight", "vision_model.head.probe",
          "vision_model.head.attention.in_proj_weight")) {
        w.add(extra, m.ones(new Shape(2)), Dtype.F32);
      }
      Path hf = Files.createDirectories(dir.resolve("siglip"));
      w.write(hf.resolve("model.safetensors"));

      LoadReport rep = PretrainedWeights.loadSiglip(hf, kept, s, StateDictLoader.strict());
      assertTrue(rep.clean());
      assertEquals(3, rep.skipped().size()); // layer 2 and the pooling head

      // conv2d(image) at patch (i, j) == linear(patchified pixels) row (i, j).
      NDArray image = m.randomNormal(new Shape(3, 4, 6));
      Tensor out = torch.conv2d(Torch.view(image.expandDims(0)), Torch.view(conv), new TensorOptional(Torch.view(convBias)),
          new long[] {2, 2}, new long[] {0, 0}, new long[] {1, 1}, 1);
      NDArray expect = Torch.adopt(out, m).reshape(8, 6).transpose(); // (patches, hidden)
      NDArray patches = LatentPatchify.patchify(image, 2); // (6, 12) in (row, col, channel) order
      NDArray w2 = s.get("vit_model.vision_model.embeddings.patch_embedding.weight").value();
      NDArray b2 = s.get("vit_model.vision_model.embeddings.patch_embedding.bias").value();
      NDArray got = patches.matMul(w2.transpose()).add(b2);
      assertArrayEquals(expect.toFloatArray(), got.toFloatArray(), 1e-4f);
      assertEquals(2, vit.numLayers());
    }
  }

  @Test
  void fluxAeLoadsIntoTheVaeStore() {
    VaeConfig tiny = new VaeConfig(8, 3, 32, 3, List.of(1, 2), 1, 4, 0.3611, 0.1159);
    try (NDManager m = NDManager.newBaseManager(); ParameterStore source = new ParameterStore(m);
        ParameterStore target = new ParameterStore(m)) {
      new FluxAutoencoder(tiny, source, "", Init.seeded(1), ai.bakery.model.tensor.Precision.FP32);
      SafetensorsWriter w = new SafetensorsWriter();
      source.all().values().forEach(p -> w.add(p.name(), p.value(), Dtype.F32));
      Path ae = dir.resolve("ae.safetensors");
      w.write(ae);
      new FluxAutoencoder(tiny, target, "vae_model");
      LoadReport rep = PretrainedWeights.loadFluxAe(ae, target, "vae_model", StateDictLoader.strict());
      assertEquals(source.all().size(), rep.loaded().size());
      assertArrayEquals(source.get("decoder.up.1.upsample.conv.weight").value().toFloatArray(),
          target.get("vae_model.decoder.up.1.upsample.conv.weight").value().toFloatArray());
      assertThrows(SafetensorsException.class,
          () -> PretrainedWeights.loadFluxAe(dir.resolve("nope.safetensors"), target, "", StateDictLoader.strict()));
    }
  }

  private static ParameterStore bagelStore(NDManager m) {
    ParameterStore s = new ParameterStore(m);
    param(s, "language_model.model.embed_tokens.weight", 5, 4);
    param(s, "vit_model.vision_model.embeddings.patch_embedding.weight", 4, 12);
    param(s, "connector.fc1.weight", 4, 4);
    param(s, "latent_pos_embed.pos_embed", 4, 4);
    return s;
  }

  @Test
  void bagelOriginalLayoutPrefersEmaAndSkipsPosEmbed() {
    try (NDManager m = NDManager.newBaseManager(); ParameterStore s = bagelStore(m)) {
      for (String base : List.of("ema", "model")) {
        float v = base.equals("ema") ? 2f : 3f;
        new SafetensorsWriter()
            .add("language_model.model.embed_tokens.weight", m.full(new Shape(5, 4), v), Dtype.BF16)
            .add("vit_model.vision_model.embeddings.patch_embedding.weight", m.full(new Shape(4, 12), v), Dtype.BF16)
            .add("connector.fc1.weight", m.full(new Shape(4, 4), v), Dtype.BF16)
            .add("latent_pos_embed.pos_embed", m.full(new Shape(4, 4), 9f), Dtype.F32)
            .add("vit_pos_embed.pos_embed", m.full(new Shape(4, 4), 9f), Dtype.F32)
            .write(dir.resolve(base + ".safetensors"));
      }
      ModelDirectory md = ModelDirectory.of(dir);
      LoadReport rep = md.loadModel(s, true, StateDictLoader.strict());
      assertEquals(3, rep.loaded().size());
      assertEquals(2f, s.get("connector.fc1.weight").value().getFloat(0, 0));
      assertEquals(0f, s.get("latent_pos_embed.pos_embed").value().getFloat(0, 0));
      md.loadModel(s, false, StateDictLoader.strict());
      assertEquals(3f, s.get("connector.fc1.weight").value().getFloat(0, 0));
      SafetensorsException e = assertThrows(SafetensorsException.class,
          () -> md.loadVae(new ParameterStore(m), "", StateDictLoader.strict()));
      assertTrue(e.getMessage().contains("ae.safetensors"), e.getMessage());
    }
  }

  @Test
  void bagelHfConvertedLayoutCarriesTheVaeAndConvPatchWeights() throws Exception {
    VaeConfig tiny = new VaeConfig(8, 3, 32, 3, List.of(1, 2), 1, 4, 0.3611, 0.1159);
    try (NDManager m = NDManager.newBaseManager(); ParameterStore s = bagelStore(m);
        ParameterStore vaeSource = new ParameterStore(m); ParameterStore vae = new ParameterStore(m)) {
      new FluxAutoencoder(tiny, vaeSource, "vae_model", Init.seeded(4), ai.bakery.model.tensor.Precision.FP32);
      SafetensorsWriter w = new SafetensorsWriter()
          .add("language_model.model.embed_tokens.weight", m.ones(new Shape(5, 4)), Dtype.BF16)
          .add("vit_model.vision_model.embeddings.patch_embedding.weight", m.randomNormal(new Shape(4, 3, 2, 2)),
              Dtype.BF16)
          .add("connector.fc1.weight", m.ones(new Shape(4, 4)), Dtype.BF16)
          .add("latent_pos_embed.pos_embed", m.ones(new Shape(4, 4)), Dtype.BF16);
      vaeSource.all().values().forEach(p -> w.add(p.name(), p.value(), Dtype.BF16));
      Path le = Files.createDirectories(dir.resolve("le"));
      w.writeSharded(le, "model", 4096);
      ModelDirectory md = ModelDirectory.of(le);
      assertTrue(md.loadModel(s, true, StateDictLoader.strict()).clean());
      new FluxAutoencoder(tiny, vae, "");
      LoadReport rep = md.loadVae(vae, "", StateDictLoader.strict());
      assertEquals(vae.all().size(), rep.loaded().size());
      assertEquals(vaeSource.get("vae_model.encoder.conv_in.bias").value().getFloat(3),
          vae.get("encoder.conv_in.bias").value().getFloat(3), 1e-2f);
    }
    assertThrows(SafetensorsException.class, () -> ModelDirectory.of(Files.createDirectories(dir.resolve("empty"))));
  }
}
