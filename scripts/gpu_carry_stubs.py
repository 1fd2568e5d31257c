#!/usr/bin/python3
"""Shared libraries for the GPU bundle (scripts/gpu-carry.sh): real ones and placeholders.

Debian's FFmpeg libraries name some 150 libraries (encoders, X11, Vulkan, ICU, SDL...)
that the bundle's programs do not use: they only demux, decode H.264/HEVC/AV1 and scale.
Carrying them all would not fit the 64 MiB the GPU machine takes, so each such library is
replaced by a small one with the same soname that defines exactly the symbols (and symbol
versions) the carried libraries import from it: data as zeros, functions returning 0 (or
"" where libavformat's probing reads a string). FFmpeg does call some of them when it
sets up its codec and format tables (encoders' static data, format probes); 0 there
means "nothing", and any real use of such a library would fail the tests loudly.

The programs' own libraries (and theirs) are copied; of what FFmpeg's libraries pull in,
only the libraries in KEEP are. The C library family (BASE) is the GPU machine's own.

usage: gpu_carry_stubs.py LIBDIR PROGRAM...
"""
import os
import re
import subprocess
import sys

SYM = re.compile(r'^\s*\d+:\s+[0-9a-f]+\s+(\d+|0x[0-9a-f]+)\s+(\w+)\s+(\w+)\s+\w+\s+(\w+)\s+(\S+)')


# Called on every input by libavformat's format probing, which reads the string.
STRINGS = {'gme_identify_header'}


def dyn_syms(path):
    """(name, version, defined, type, size, bind) of every dynamic symbol."""
    out = subprocess.run(['readelf', '--dyn-syms', '-W', path], capture_output=True,
                         text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        m = SYM.match(line)
        if not m:
            continue
        size, typ, bind, ndx, name = m.groups()
        size = int(size, 0)
        ver = None
        if '@' in name:
            name, ver = re.split(r'@@?', name, maxsplit=1)
            ver = re.sub(r'\s*\(\d+\)$', '', ver)
        syms.append((name, ver, ndx != 'UND', typ, size, bind))
    return syms


def needed(path):
    out = subprocess.run(['readelf', '-d', '-W', path], capture_output=True, text=True,
                         check=True).stdout
    return re.findall(r'\(NEEDED\)\s+Shared library: \[(.+?)\]', out)


def soname(path):
    out = subprocess.run(['readelf', '-d', '-W', path], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r'\(SONAME\)\s+Library soname: \[(.+?)\]', out)
    return m.group(1) if m else os.path.basename(path)


def required_versions(consumer, lib_soname):
    """Version names consumer's .gnu.version_r asks of lib_soname."""
    out = subprocess.run(['readelf', '-V', '-W', consumer], capture_output=True, text=True,
                         check=True).stdout
    vers, current = set(), None
    for line in out.splitlines():
        m = re.search(r'File: (\S+)\s+Cnt:', line)
        if m:
            current = m.group(1)
            continue
        m = re.search(r'Name: (\S+)\s+Flags:', line)
        if m and current == lib_soname:
            vers.add(m.group(1))
    return vers


def make_stub(outdir, lib, consumers):
    name = soname(lib)
    users = [c for c in consumers if name in needed(c)]
    wanted, versions = {}, set()
    for c in users:
        versions |= required_versions(c, name)
        for s, ver, defined, typ, size, bind in dyn_syms(c):
            if not defined and bind != 'WEAK':
                wanted.setdefault(s, ver)
    funcs, objs = [], []
    for s, ver, defined, typ, size, bind in dyn_syms(lib):
        if not defined or s not in wanted or (wanted[s] and ver and wanted[s] != ver):
            continue
        if typ in ('FUNC', 'IFUNC', 'NOTYPE'):
            funcs.append((s, wanted[s] or ver))
        elif typ in ('OBJECT', 'COMMON', 'TLS'):
            objs.append((s, wanted[s] or ver, max(size, 8), typ == 'TLS'))
        wanted.pop(s)
    src = os.path.join(outdir, name + '.c')
    with open(src, 'w') as f:
        for s, _ in funcs:
            f.write('%s %s(void) { return %s; }\n' % (('const char *', s, '""') if s in STRINGS
                                                      else ('long', s, '0')))
        for s, _, size, tls in objs:
            f.write('%schar %s[%d] __attribute__((aligned(16)));\n' %
                    ('__thread ' if tls else '', s, size))
    script = os.path.join(outdir, name + '.map')
    byver = {v: [] for v in versions}
    for s, ver in funcs + [(o[0], o[1]) for o in objs]:
        byver.setdefault(ver, []).append(s)
    # An unversioned reference binds to any default version: such symbols join a node.
    loose = byver.pop(None, [])
    if byver:
        byver[sorted(byver)[0]] += loose
    else:
        byver = {None: loose}
    with open(script, 'w') as f:
        nodes = sorted(byver)
        for i, v in enumerate(nodes):
            f.write('%s { global: %s %s};\n' % (v, ''.join(s + '; ' for s in byver[v]),
                                                'local: *; ' if i == len(nodes) - 1 else ''))
    cmd = ['gcc', '-shared', '-fPIC', '-O1', '-w', '-o', os.path.join(outdir, name), src,
           '-Wl,-soname,' + name]
    if None not in byver:
        cmd.append('-Wl,--version-script=' + script)
    subprocess.run(cmd, check=True)
    os.unlink(src)
    os.unlink(script)
    return len(funcs) + len(objs)


# Loaded from the GPU machine's own system.
BASE = {'libc.so.6', 'libm.so.6', 'libpthread.so.0', 'libdl.so.2', 'librt.so.1',
        'ld-linux-x86-64.so.2', 'libgcc_s.so.1', 'libstdc++.so.6', 'libresolv.so.2',
        'libutil.so.1'}
# FFmpeg's own libraries, whose dependencies are placeholders unless kept.
FFMPEG = re.compile(r'^lib(avformat|avcodec|avutil|avdevice|swscale|swresample)\.so')
# What demuxing, H.264/HEVC/AV1 decoding (dav1d) and scaling really call.
KEEP = re.compile(r'^lib(swresample|dav1d|z|bz2|lzma|zstd)\.so')


def resolve_map(programs):
    """soname -> path of everything the programs load, as the loader here finds it."""
    where = {}
    for p in programs:
        out = subprocess.run(['ldd', p], capture_output=True, text=True, check=True).stdout
        for name, path in re.findall(r'^\s*(\S+) => (/\S+)', out, re.M):
            where[name] = path
    return where


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    libdir, programs = args[0], args[1:]
    where = resolve_map(programs)
    real, seen = [], set()
    todo = [(n, False) for p in programs for n in needed(p)]
    while todo:
        name, from_ffmpeg = todo.pop()
        if name in seen or name in BASE:
            continue
        if from_ffmpeg and not FFMPEG.match(name) and not KEEP.match(name):
            continue
        seen.add(name)
        if name not in where:
            sys.exit('gpu-carry: %s not found here' % name)
        real.append(name)
        todo += [(n, bool(FFMPEG.match(name)) or from_ffmpeg and not KEEP.match(name))
                 for n in needed(where[name])]
    stubs = sorted(n for n in where if n not in seen and n not in BASE)
    for name in real:
        dst = os.path.join(libdir, name)
        with open(where[name], 'rb') as src, open(dst, 'wb') as out:
            out.write(src.read())
        os.chmod(dst, 0o755)
    consumers = programs + [os.path.join(libdir, n) for n in real]
    total = sum(make_stub(libdir, where[n], consumers) for n in stubs)
    print('gpu-carry: %d libraries, %d placeholders (%d symbols)' % (len(real), len(stubs), total))


if __name__ == '__main__':
    main()
