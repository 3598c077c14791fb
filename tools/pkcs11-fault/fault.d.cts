/** The built module (tools/pkcs11-fault/build/libpkcs11-fault.so); runs make first when it is missing or older than its source. */
export declare function faultModule(): string;
/** A private copy of the module in `dir`, with `env` (see faultEnv) written beside it for in-process use (jest's process.env never reaches native code). */
export declare function faultModuleCopy(dir: string, env?: Record<string, string>): string;
/** The control file named by CIOP_FAULT_CONTROL; each write replaces it whole. */
export declare class FaultControl {
  readonly file: string;
  constructor(file: string);
  /** Replaces the rules in force (one rule per entry). */
  set(...rules: string[]): void;
  /** No rules; a call hanging on a rule is released. */
  clear(): void;
  remove(): void;
}
/** CIOP_FAULT_REAL_MODULE, CIOP_FAULT_CONTROL and CIOP_FAULT_RULES for a process that loads the module. */
export declare function faultEnv(o: { realModule: string; control?: string; rules?: string | string[] }): Record<string, string>;
