"""Calls the fault module through ctypes what pkcs11js cannot send (tools/pkcs11-fault/README.md,
"Vendor quirks"): the short CK_GCM_PARAMS (no ulIvBits) and C_OpenSession with a Notify callback.

Input (JSON on stdin): {"lib", "label", "pin", "key": hex AES key, "iv": hex, "aad": hex,
"plaintext": hex}. The module's settings come from the environment (CIOP_FAULT_*).
Output (JSON): the CKR of each call as a number, and the ciphertext of the short-struct encryption.
"""
import ctypes as C
import json
import sys

ULONG = C.c_ulong
P = C.c_void_p
NOTIFY = C.CFUNCTYPE(ULONG, ULONG, ULONG, P)
NAMES = ["C_Initialize", "C_Finalize", "C_GetInfo", "C_GetFunctionList", "C_GetSlotList", "C_GetSlotInfo",
         "C_GetTokenInfo", "C_GetMechanismList", "C_GetMechanismInfo", "C_InitToken", "C_InitPIN", "C_SetPIN",
         "C_OpenSession", "C_CloseSession", "C_CloseAllSessions", "C_GetSessionInfo", "C_GetOperationState",
         "C_SetOperationState", "C_Login", "C_Logout", "C_CreateObject", "C_CopyObject", "C_DestroyObject",
         "C_GetObjectSize", "C_GetAttributeValue", "C_SetAttributeValue", "C_FindObjectsInit", "C_FindObjects",
         "C_FindObjectsFinal", "C_EncryptInit", "C_Encrypt"]


class Attr(C.Structure):
    _fields_ = [("type", ULONG), ("pValue", P), ("ulValueLen", ULONG)]


class Mech(C.Structure):
    _fields_ = [("mechanism", ULONG), ("pParameter", P), ("ulParameterLen", ULONG)]


class GcmShort(C.Structure):
    _fields_ = [("pIv", P), ("ulIvLen", ULONG), ("pAAD", P), ("ulAADLen", ULONG), ("ulTagBits", ULONG)]


class GcmV240(C.Structure):
    _fields_ = [("pIv", P), ("ulIvLen", ULONG), ("ulIvBits", ULONG), ("pAAD", P), ("ulAADLen", ULONG), ("ulTagBits", ULONG)]


def main():
    a = json.load(sys.stdin)
    lib = C.CDLL(a["lib"])
    fl = P()
    lib.C_GetFunctionList(C.byref(fl))
    table = C.cast(fl.value + 8, C.POINTER(P))  # after CK_VERSION (padded to 8)
    def call(name):
        return lambda *args: C.CFUNCTYPE(ULONG, *([P] * len(args)))(table[NAMES.index(name)])(*args)

    fn = {n: call(n) for n in NAMES}
    out = {}
    out["initialize"] = fn["C_Initialize"](None)
    count = ULONG(16)
    slots = (ULONG * 16)()
    fn["C_GetSlotList"](1, slots, C.byref(count))
    slot = None
    for i in range(count.value):
        info = C.create_string_buffer(256)
        fn["C_GetTokenInfo"](slots[i], info)
        if info.raw[:32].decode().strip() == a["label"]:
            slot = slots[i]
    session = ULONG()
    called = []
    cb = NOTIFY(lambda s, e, app: called.append(e) or 0)
    out["openWithNotify"] = fn["C_OpenSession"](slot, 0x6, None, cb, C.byref(session))
    if out["openWithNotify"] == 0:
        fn["C_CloseSession"](session.value)
    out["openWithoutNotify"] = fn["C_OpenSession"](slot, 0x6, None, None, C.byref(session))
    pin = a["pin"].encode()
    out["login"] = fn["C_Login"](session.value, 1, pin, len(pin))
    key = bytes.fromhex(a["key"])
    cko, ckk, yes = ULONG(4), ULONG(0x1F), C.c_ubyte(1)
    kbuf = C.create_string_buffer(key, len(key))
    tmpl = (Attr * 4)(Attr(0x0, C.cast(C.byref(cko), P), 8), Attr(0x100, C.cast(C.byref(ckk), P), 8),
                      Attr(0x11, C.cast(C.pointer(kbuf), P), len(key)), Attr(0x104, C.cast(C.byref(yes), P), 1))
    h = ULONG()
    out["create"] = fn["C_CreateObject"](session.value, tmpl, 4, C.byref(h))
    iv, aad, pt = (bytes.fromhex(a[k]) for k in ("iv", "aad", "plaintext"))
    ivb, aadb = C.create_string_buffer(iv, len(iv)), C.create_string_buffer(aad, len(aad))
    short = GcmShort(C.cast(ivb, P), len(iv), C.cast(aadb, P), len(aad), 128)
    m = Mech(0x1087, C.cast(C.byref(short), P), C.sizeof(short))
    out["initShort"] = fn["C_EncryptInit"](session.value, C.byref(m), h.value)
    if out["initShort"] == 0:
        n = ULONG(len(pt) + 16)
        ct = C.create_string_buffer(len(pt) + 16)
        out["encrypt"] = fn["C_Encrypt"](session.value, C.create_string_buffer(pt, len(pt)), len(pt), ct, C.byref(n))
        out["ciphertext"] = ct.raw[: n.value].hex()
    long = GcmV240(C.cast(ivb, P), len(iv), len(iv) * 8, C.cast(aadb, P), len(aad), 128)
    m = Mech(0x1087, C.cast(C.byref(long), P), C.sizeof(long))
    out["initLong"] = fn["C_EncryptInit"](session.value, C.byref(m), h.value)
    fn["C_CloseSession"](session.value)
    fn["C_Finalize"](None)
    print(json.dumps(out))


main()
