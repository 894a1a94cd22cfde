package sffn.nn.config;

/** The normalisation of the pre-norm blocks. */
public enum Norm { LAYERNORM, RMSNORM }
