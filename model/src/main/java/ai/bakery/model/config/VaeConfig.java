package ai.bakery.model.config;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The FLUX autoencoder's shape (the reference's AutoEncoderParams). {@code ae.safetensors} carries no config,
 * so {@link #FLUX} is what BAGEL uses; a JSON file may override it (unknown fields ignored, absent ones
 * default to FLUX).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record VaeConfig(
    @JsonProperty("resolution") int resolution,
    @JsonProperty("in_channels") int inChannels,
    @JsonProperty("ch") int ch,
    @JsonProperty("out_ch") int outCh,
    @JsonProperty("ch_mult") List<Integer> chMult,
    @JsonProperty("num_res_blocks") int numResBlocks,
    @JsonProperty("z_channels") int zChannels,
    @JsonProperty("scale_factor") double scaleFactor,
    @JsonProperty("shift_factor") double shiftFactor) {

  /** GroupNorm in every block uses this many groups, so every channel count must divide by it. */
  public static final int NORM_GROUPS = 32;

  public static final VaeConfig FLUX = new VaeConfig(256, 3, 128, 3, List.of(1, 2, 4, 4), 2, 16, 0.3611, 0.1159);

  @JsonCreator
  static VaeConfig fromJson(
      @JsonProperty("resolution") Integer resolution,
      @JsonProperty("in_channels") Integer inChannels,
      @JsonProperty("ch") Integer ch,
      @JsonProperty("out_ch") Integer outCh,
      @JsonProperty("ch_mult") List<Integer> chMult,
      @JsonProperty("num_res_blocks") Integer numResBlocks,
      @JsonProperty("z_channels") Integer zChannels,
      @JsonProperty("scale_factor") Double scaleFactor,
      @JsonProperty("shift_factor") Double shiftFactor,
      @JsonProperty("downsample") Integer downsample) {
    VaeConfig c = new VaeConfig(
        resolution == null ? FLUX.resolution : resolution,
        inChannels == null ? FLUX.inChannels : inChannels,
        ch == null ? FLUX.ch : ch,
        outCh == null ? FLUX.outCh : outCh,
        chMult == null ? FLUX.chMult : chMult,
        numResBlocks == null ? FLUX.numResBlocks : numResBlocks,
        zChannels == null ? FLUX.zChannels : zChannels,
        scaleFactor == null ? FLUX.scaleFactor : scaleFactor,
        shiftFactor == null ? FLUX.shiftFactor : shiftFactor);
    if (downsample != null && downsample != c.downsample()) {
      throw new ConfigException("vae config: downsample " + downsample + " disagrees with ch_mult " + c.chMult
          + " (which gives " + c.downsample() + ")");
    }
    return c;
  }

  public VaeConfig {
    positive("resolution", resolution);
    positive("in_channels", inChannels);
    positive("ch", ch);
    positive("out_ch", outCh);
    positive("num_res_blocks", numResBlocks);
    positive("z_channels", zChannels);
    if (chMult == null || chMult.isEmpty()) {
      throw new ConfigException("vae config: ch_mult must list at least one level");
    }
    chMult = List.copyOf(chMult);
    for (int i = 0; i < chMult.size(); i++) {
      int m = chMult.get(i);
      if (m <= 0 || (ch * m) % NORM_GROUPS != 0) {
        throw new ConfigException("vae config: ch_mult[" + i + "] = " + m + " gives " + ch * m
            + " channels, which must be positive and divisible by " + NORM_GROUPS + " (GroupNorm groups)");
      }
    }
    if (ch % NORM_GROUPS != 0) {
      throw new ConfigException("vae config: ch " + ch + " must be divisible by " + NORM_GROUPS);
    }
    if (!(scaleFactor > 0) || !Double.isFinite(scaleFactor)) {
      throw new ConfigException("vae config: scale_factor must be finite and > 0, got " + scaleFactor);
    }
    if (!Double.isFinite(shiftFactor)) {
      throw new ConfigException("vae config: shift_factor must be finite, got " + shiftFactor);
    }
  }

  /** Spatial reduction from pixels to latents: one halving per level after the first. */
  public int downsample() {
    return 1 << (chMult.size() - 1);
  }

  public int numLevels() {
    return chMult.size();
  }

  public static VaeConfig read(Path file) {
    try {
      return new ObjectMapper().readValue(Files.readAllBytes(file), VaeConfig.class);
    } catch (com.fasterxml.jackson.databind.exc.ValueInstantiationException e) {
      Throwable cause = e.getCause() instanceof ConfigException ? e.getCause() : e;
      throw new ConfigException(file + ": " + cause.getMessage(), e);
    } catch (IOException e) {
      throw new ConfigException(file + ": cannot read vae config: " + e.getMessage(), e);
    }
  }

  private static void positive(String field, int v) {
    if (v <= 0) {
      throw new ConfigException("vae config: " + field + " must be > 0, got " + v);
    }
  }
}
