#!/usr/bin/env python3
"""layering-check: every #include "..." must respect the declared module layering.

    scripts/layering-check.py LAYERS_FILE SOURCE_DIR

LAYERS_FILE is written by CMake (cmake/BerthModule.cmake), one unit per line:

    module <name> <folder> <declared modules, comma-separated, or ->
    program <name> <file,...> <declared modules, or ->

A module's files are the *.c and *.h in its folder. A file may include:
  - headers of its own module (any of them, internal ones too);
  - <dep>.h, the public header of a module its unit declares directly;
  - for a program, headers next to its own source file.
Anything else fails: the public header of an undeclared module (even one that
compiles because a declared module re-exports it), another module's
*-internal.h or other non-public header, or a header of no module. Each
failure is printed as FILE:LINE: #include "HEADER": reason, and the exit
status is 1 (2 for a bad LAYERS_FILE).

Declared modules whose header no file of the unit includes are printed as
notes (the dependency may be stale) but do not fail the check.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def read_layers(path):
    units = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) != 4 or fields[0] not in ("module", "program"):
                sys.exit(f"{path}:{number}: expected '<module|program> <name> <paths> <deps>'")
            kind, name, paths, deps = fields
            units.append(
                {
                    "kind": kind,
                    "name": name,
                    "paths": paths.split(","),
                    "deps": set() if deps == "-" else set(deps.split(",")),
                }
            )
    return units


def unit_files(root, unit):
    if unit["kind"] == "program":
        return [os.path.normpath(p) for p in unit["paths"]]
    folder = unit["paths"][0]
    names = sorted(os.listdir(os.path.join(root, folder)))
    return [os.path.join(folder, n) for n in names if n.endswith((".c", ".h"))]


def candidates(root, module_dirs, rel_file, header):
    """Where the compiler may find a quoted include: next to the including
    file first, else on an include path (some module's folder, or the source
    root for "<module>/<module>.h" spellings)."""
    here = os.path.normpath(os.path.join(os.path.dirname(rel_file), header))
    if os.path.isfile(os.path.join(root, here)):
        return [here]
    found = []
    for d in [""] + sorted(module_dirs):
        p = os.path.normpath(os.path.join(d, header))
        if os.path.isfile(os.path.join(root, p)) and p not in found:
            found.append(p)
    return found


def judge(unit, module_dirs, rel_file, header_path):
    """None if unit may include header_path, else the reason it may not.
    Also returns the module whose public header it is (for the unused notes)."""
    owner = module_dirs.get(os.path.dirname(header_path))
    base = os.path.basename(header_path)
    if owner is None:
        if unit["kind"] == "program" and os.path.dirname(header_path) == os.path.dirname(rel_file):
            return None, None
        return "not a header of any module", None
    if unit["kind"] == "module" and owner == unit["name"]:
        return None, None
    if base == owner + ".h":
        if owner in unit["deps"]:
            return None, owner
        where = "DEPS"
        if unit["kind"] == "module":
            where += ", or PUBLIC_DEPS if its public header includes it"
        return (
            f"public header of module {owner}, which {unit['kind']} {unit['name']} "
            f"does not declare (add it to {where})",
            None,
        )
    if base.endswith("-internal.h"):
        return f"internal header of module {owner} (only {owner}/{owner}.h is public)", None
    return f"private header of module {owner} (only {owner}/{owner}.h is public)", None


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    layers, root = argv[1], argv[2]
    units = read_layers(layers)
    module_dirs = {
        os.path.normpath(u["paths"][0]): u["name"] for u in units if u["kind"] == "module"
    }
    errors = []
    notes = []
    checked = 0
    for unit in units:
        used = set()
        for rel_file in unit_files(root, unit):
            checked += 1
            with open(os.path.join(root, rel_file), encoding="utf-8", errors="replace") as f:
                for number, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    header = m.group(1)
                    found = candidates(root, module_dirs, rel_file, header)
                    if not found:
                        errors.append(f'{rel_file}:{number}: #include "{header}": not found '
                                      "next to the file or in any module")
                        continue
                    verdicts = [judge(unit, module_dirs, rel_file, p) for p in found]
                    ok = [v for v in verdicts if v[0] is None]
                    if ok:
                        used.update(v[1] for v in ok if v[1])
                    else:
                        errors.append(f'{rel_file}:{number}: #include "{header}": '
                                      f"{verdicts[0][0]}")
        for dep in sorted(unit["deps"] - used):
            notes.append(f"note: {unit['kind']} {unit['name']} declares {dep} "
                         f"but includes no {dep}.h")
    for n in notes:
        print(n)
    for e in errors:
        print(e)
    if errors:
        print(f"layering-check: {len(errors)} forbidden include(s); the rules are in "
              "docs/internals/architecture.md (Modules and layering)")
        return 1
    print(f"layering-check: {checked} files in {len(units)} units OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
