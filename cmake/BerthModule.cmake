# Module layering (docs/internals/architecture.md, "Modules and layering").
#
# berth_module(NAME <name>
#              [PUBLIC_DEPS <module | Imported::target>...]
#              [DEPS <module>...]
#              [LIBS <library>...])
#
# Declares the module in folder <name>/: the static library berth_<name> from
# its *.c files.
#   PUBLIC_DEPS  what <name>/<name>.h itself includes: linked PUBLIC, so
#                dependents see those headers too
#   DEPS         modules only its own .c and internal headers include: PRIVATE
#   LIBS         other libraries its sources use (PkgConfig::YAML, m): PRIVATE
# Dependents see only <name>.h: it is symlinked alone into
# ${BERTH_INCLUDE_ROOT}/<name>/, which is the library's one INTERFACE include
# directory, while the module's folder is a PRIVATE include directory. So
# another module's *-internal.h, or the header of a module that is not
# declared, does not compile.
#
# berth_<name>_internal (INTERFACE) adds the module's folder and everything
# its sources see: for tests/ and tests/fuzz/ only, which test internals.
#
# berth_program(NAME <executable> SOURCES <file>... [DEPS <module>...]
#               [LIBS <library>...])
# An executable whose sources may include the public headers of DEPS.
#
# Both record what a unit declares in ${BERTH_LAYERS_FILE}, which the test
# layering_check (scripts/layering-check.py) reads: a file may include only
# its own module's headers and the public headers of the modules its unit
# declares directly (not those it merely sees through a PUBLIC dependency).
include_guard(GLOBAL)

set(BERTH_INCLUDE_ROOT ${CMAKE_BINARY_DIR}/berth-include)
set(BERTH_LAYERS_FILE ${CMAKE_BINARY_DIR}/berth-layers.txt)
set_property(GLOBAL PROPERTY BERTH_MODULES "")
set_property(GLOBAL PROPERTY BERTH_LAYERS "")

# Splits a DEPS/PUBLIC_DEPS list into link items (<out>_links) and declared
# module names (<out>_modules). A module must be declared before its
# dependents; anything with "::" is an imported target, allowed only where
# allow_targets is true.
function(_berth_resolve_deps unit out allow_targets)
  get_property(known GLOBAL PROPERTY BERTH_MODULES)
  set(links "")
  set(modules "")
  foreach(dep IN LISTS ARGN)
    if(dep IN_LIST known)
      list(APPEND links berth_${dep})
      list(APPEND modules ${dep})
    elseif(allow_targets AND dep MATCHES "::")
      list(APPEND links ${dep})
    else()
      message(FATAL_ERROR "${unit}: '${dep}' is not a module declared before it "
                          "(libraries belong in LIBS, or in PUBLIC_DEPS if its public header "
                          "includes theirs)")
    endif()
  endforeach()
  set(${out}_links ${links} PARENT_SCOPE)
  set(${out}_modules ${modules} PARENT_SCOPE)
endfunction()

# LIBS is for libraries outside berth: a module reached through LIBS (or its
# _internal target) would bypass the declared layering.
function(_berth_check_libs unit)
  foreach(lib IN LISTS ARGN)
    if(lib MATCHES "^berth_")
      message(FATAL_ERROR "${unit}: LIBS is for libraries outside berth; "
                          "declare the module '${lib}' in DEPS or PUBLIC_DEPS")
    endif()
  endforeach()
endfunction()

# One line per unit: <kind> <name> <path,...> <module,...|->, paths relative
# to the source directory (folders for modules, files for programs).
function(_berth_record kind name paths modules)
  set(rel "")
  foreach(p IN LISTS paths)
    file(RELATIVE_PATH r ${CMAKE_SOURCE_DIR} ${p})
    list(APPEND rel ${r})
  endforeach()
  list(JOIN rel "," rel)
  list(REMOVE_DUPLICATES modules)
  list(JOIN modules "," deps)
  if(deps STREQUAL "")
    set(deps "-")
  endif()
  set_property(GLOBAL APPEND PROPERTY BERTH_LAYERS "${kind} ${name} ${rel} ${deps}")
endfunction()

function(berth_module)
  cmake_parse_arguments(PARSE_ARGV 0 M "" "NAME" "PUBLIC_DEPS;DEPS;LIBS")
  if(NOT M_NAME OR M_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "berth_module: usage: berth_module(NAME <name> [PUBLIC_DEPS ...] "
                        "[DEPS ...] [LIBS ...]), got: ${ARGN}")
  endif()
  set(name ${M_NAME})
  set(dir ${CMAKE_CURRENT_SOURCE_DIR})
  file(GLOB sources CONFIGURE_DEPENDS ${dir}/*.c)
  if(NOT sources)
    return()
  endif()
  if(NOT EXISTS ${dir}/${name}.h)
    message(FATAL_ERROR "module ${name}: its public header ${dir}/${name}.h is missing")
  endif()
  _berth_resolve_deps("module ${name} PUBLIC_DEPS" public TRUE ${M_PUBLIC_DEPS})
  _berth_resolve_deps("module ${name} DEPS" private FALSE ${M_DEPS})
  _berth_check_libs("module ${name}" ${M_LIBS})

  # A symlink, not a copy: edits to the header need no re-configure.
  set(include_dir ${BERTH_INCLUDE_ROOT}/${name})
  file(MAKE_DIRECTORY ${include_dir})
  file(CREATE_LINK ${dir}/${name}.h ${include_dir}/${name}.h SYMBOLIC)

  add_library(berth_${name} STATIC ${sources})
  target_include_directories(berth_${name} PRIVATE ${dir} INTERFACE ${include_dir})
  target_link_libraries(berth_${name}
    PUBLIC ${public_links}
    PRIVATE ${private_links} ${M_LIBS})

  add_library(berth_${name}_internal INTERFACE)
  target_include_directories(berth_${name}_internal INTERFACE ${dir})
  target_link_libraries(berth_${name}_internal INTERFACE berth_${name} ${private_links} ${M_LIBS})

  set_property(GLOBAL APPEND PROPERTY BERTH_MODULES ${name})
  set(declared ${public_modules} ${private_modules})
  _berth_record(module ${name} "${dir}" "${declared}")
endfunction()

function(berth_program)
  cmake_parse_arguments(PARSE_ARGV 0 P "" "NAME" "SOURCES;DEPS;LIBS")
  if(NOT P_NAME OR NOT P_SOURCES OR P_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "berth_program: usage: berth_program(NAME <exe> SOURCES <file>... "
                        "[DEPS ...] [LIBS ...]), got: ${ARGN}")
  endif()
  _berth_resolve_deps("program ${P_NAME} DEPS" deps FALSE ${P_DEPS})
  _berth_check_libs("program ${P_NAME}" ${P_LIBS})
  add_executable(${P_NAME} ${P_SOURCES})
  target_link_libraries(${P_NAME} PRIVATE ${deps_links} ${P_LIBS})
  list(TRANSFORM P_SOURCES PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/ REGEX "^[^/]")
  _berth_record(program ${P_NAME} "${P_SOURCES}" "${deps_modules}")
endfunction()

# Written once every unit is declared: the end of the top-level CMakeLists.
function(_berth_write_layers)
  get_property(lines GLOBAL PROPERTY BERTH_LAYERS)
  list(JOIN lines "\n" text)
  file(CONFIGURE OUTPUT ${BERTH_LAYERS_FILE}
       CONTENT "# <kind> <name> <paths> <declared modules> (cmake/BerthModule.cmake)\n${text}\n"
       @ONLY)
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _berth_write_layers)
