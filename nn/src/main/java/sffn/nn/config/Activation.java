package sffn.nn.config;

/** The FFN non-linearity; SwiGLU doubles fc1's outputs. */
public enum Activation { GELU, SWIGLU }
