package sffn.nn.config;

/** The structure of the FFN linears ({@code linear} is dense). */
public enum FfnType { LINEAR, LOWRANK, BLOCKDENSE, BLOCKSHUFFLE }
