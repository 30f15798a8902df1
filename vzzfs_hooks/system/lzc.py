"""libzfs_core through ctypes: create's clone and its reads, with no zfs process.

A create by clone is one read and one clone. Through the CLI each is a zfs
process whose start and library set-up cost more than the work (issue 28: a
`zfs clone -o` is 0.54 s in the test VM where lzc_clone with the same
properties is 0.28 s), and pyzfs, which has lzc_clone, takes over a second to
import (its cffi declarations are parsed at import). So this module binds the
three C calls create needs, lzc_clone, lzc_channel_program_nosync and
libzfs_core_init, plus the nvlist calls to build their arguments, and nothing
else; every other ZFS call stays with pyzfs or the CLI (zfs.py).

``load()`` answers None where the libraries or the calls are missing (an
OpenZFS older than 2.0, VZZFS_NO_LZC set): zfs.py then uses the CLI. Native
properties go to the kernel as their index values, which libzfs would look up
by name: ``prop_index`` holds those of the values vzzfs sets (the on-disk enum
values of OpenZFS, which never change); a value not in it goes through the CLI.
"""

import os

# ctypes is imported where used: zfs.py imports this module for every command

_NV_UNIQUE_NAME = 1

# native index properties: value -> the number the kernel stores (zio_compress,
# zio_checksum with ZIO_CHECKSUM_VERIFY = 1 << 8, zfs_cache_type)
_INDEX = {
    "compression": {"on": 1, "off": 2, "lzjb": 3, "gzip": 10, "zle": 14, "lz4": 15,
                    "gzip-1": 5, "gzip-2": 6, "gzip-3": 7, "gzip-4": 8, "gzip-5": 9,
                    "gzip-6": 10, "gzip-7": 11, "gzip-8": 12, "gzip-9": 13},
    "dedup": {"on": 1, "off": 2, "verify": 1 | 256, "sha256": 8, "sha256,verify": 8 | 256},
    "primarycache": {"none": 0, "metadata": 1, "all": 2},
}

# the reads: each name that exists, the properties asked of it (a comma-separated
# list beside each name: a create asks the pool for its space and the template for
# its size, not each for all), as length-prefixed fields (name, property, value or
# "-" for unset; first a field with no property: the name exists); a string return
# is the simplest thing to take out of the result nvlist
_READ = b"""
local args = ...
local out = {}
local function put(s) out[#out + 1] = #s .. ":" .. s end
for i, name in ipairs(args["names"]) do
  if zfs.exists(name) then
    put(name) put("") out[#out + 1] = "-"
    for prop in string.gmatch(args["props"][i], "[^,]+") do
      local v = zfs.get_prop(name, prop)
      put(name) put(prop)
      if v == nil then out[#out + 1] = "-" else put(tostring(v)) end
    end
  end
end
return table.concat(out)
"""
_READ_INSTRUCTIONS = 10 * 1000 * 1000  # lzc's default limits
_READ_MEMORY = 10 << 20


def prop_index(prop, value):
    """What the kernel takes for native property ``prop`` set to ``value``: the index
    number for an index property vzzfs sets, the string for a user property (one
    with a colon), None when only libzfs could say (the CLI must set it). Pure."""
    if ":" in prop:
        return value
    return _INDEX.get(prop, {}).get(value)


def parse_fields(data):
    """{name: {prop: value or None}} from the read program's answer (bytes: its
    lengths count bytes). Pure."""
    fields, i = [], 0
    while i < len(data):
        if data[i:i + 1] == b"-":
            fields.append(None)
            i += 1
            continue
        size, colon, _ = data[i:i + 12].partition(b":")
        if not colon or not size.isdigit():
            raise ValueError("bad field at %d of the channel program's answer" % i)
        start = i + len(size) + 1
        i = start + int(size)
        if i > len(data):
            raise ValueError("the channel program's answer is cut short")
        fields.append(data[start:i].decode("utf-8", "replace"))
    if len(fields) % 3:
        raise ValueError("the channel program's answer is cut short")
    found = {}
    for k in range(0, len(fields), 3):
        props = found.setdefault(fields[k], {})
        if fields[k + 1]:  # "": the name exists, whatever is asked of it
            props[fields[k + 1]] = fields[k + 2]
    return found


class Lzc(object):
    """The bound calls; make one with ``load()``."""

    def __init__(self, nvpair, core):
        import ctypes
        p, s = ctypes.c_void_p, ctypes.c_char_p
        self._nv, self._core = nvpair, core
        nvpair.nvlist_alloc.argtypes = (ctypes.POINTER(p), ctypes.c_uint, ctypes.c_int)
        nvpair.nvlist_add_string.argtypes = (p, s, s)
        nvpair.nvlist_add_uint64.argtypes = (p, s, ctypes.c_uint64)
        nvpair.nvlist_add_string_array.argtypes = (p, s, ctypes.POINTER(s), ctypes.c_uint)
        nvpair.nvlist_lookup_string.argtypes = (p, s, ctypes.POINTER(s))
        nvpair.nvlist_free.argtypes = (p,)
        nvpair.nvlist_free.restype = None
        core.lzc_clone.argtypes = (s, s, p)
        core.lzc_channel_program_nosync.argtypes = (s, s, ctypes.c_uint64, ctypes.c_uint64,
                                                    p, ctypes.POINTER(p))

    def _nvlist(self):
        import ctypes
        nvl = ctypes.c_void_p()
        if self._nv.nvlist_alloc(ctypes.byref(nvl), _NV_UNIQUE_NAME, 0):
            raise MemoryError("nvlist_alloc")
        return nvl

    def _add(self, nvl, key, value):
        import ctypes
        key = key.encode()
        if isinstance(value, int):
            rc = self._nv.nvlist_add_uint64(nvl, key, value)
        elif isinstance(value, str):
            rc = self._nv.nvlist_add_string(nvl, key, value.encode())
        else:
            items = [v.encode() for v in value]
            rc = self._nv.nvlist_add_string_array(nvl, key, (ctypes.c_char_p * len(items))(*items),
                                                  len(items))
        if rc:
            raise OSError(rc, "nvlist_add %s: %s" % (key.decode(), os.strerror(rc)))

    def clone(self, target, origin, props):
        """lzc_clone of snapshot ``origin`` to ``target`` with ``props`` ({name: what
        prop_index gave}); 0 or the errno."""
        nvl = self._nvlist()
        try:
            for k, v in sorted(props.items()):
                self._add(nvl, k, v)
            return self._core.lzc_clone(target.encode(), origin.encode(), nvl)
        finally:
            self._nv.nvlist_free(nvl)

    def read(self, pool, wanted):
        """{name: {prop: value or None}} of the names of ``wanted`` ((name, props)
        pairs, all in ``pool``) that exist, each with the props asked of it, from a
        read-only channel program; raises OSError if it failed."""
        import ctypes
        args = self._nvlist()
        out = ctypes.c_void_p()
        try:
            self._add(args, "names", [name for name, _ in wanted])
            self._add(args, "props", [",".join(props) for _, props in wanted])
            rc = self._core.lzc_channel_program_nosync(pool.encode(), _READ, _READ_INSTRUCTIONS,
                                                       _READ_MEMORY, args, ctypes.byref(out))
            text = ctypes.c_char_p()
            if rc == 0 and out and not self._nv.nvlist_lookup_string(out, b"return",
                                                                     ctypes.byref(text)):
                return parse_fields(text.value)
            raise OSError(rc or 0, "channel program on %s: %s" % (pool, os.strerror(rc)))
        finally:
            self._nv.nvlist_free(args)
            if out:
                self._nv.nvlist_free(out)


_loaded = []


def load():
    """The bound calls, or None where they cannot be had (then the CLI does it)."""
    if not _loaded:
        _loaded.append(_load())
    return _loaded[0]


def _load():
    import ctypes
    if os.environ.get("VZZFS_NO_LZC"):
        return None
    try:
        nvpair = ctypes.CDLL("libnvpair.so.3")
        core = ctypes.CDLL("libzfs_core.so.3")
        lzc = Lzc(nvpair, core)
    except (OSError, AttributeError):  # no library, or a call missing from it
        return None
    if core.libzfs_core_init():  # opens /dev/zfs: no module loaded, no lzc
        return None
    return lzc
