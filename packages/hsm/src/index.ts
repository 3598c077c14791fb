export type { KeyType, HashName, PinSource, Protection, HsmOptions, TokenInfo, KeyInfo, WrapOutcome, Capabilities } from "./types.js";
