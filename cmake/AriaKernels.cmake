# aria_kernel_variants(FAMILY SOURCE): one plugin per ISA the target can
# build, named FAMILY-kernels-ISA.so, from the same source compiled with
# -DARIA_ISA_<ISA> and that ISA's flags. Each scores itself at run time, so
# building a variant the build machine cannot run is fine. Extra ISAs after
# SRC (neondot: NEON with the dot-product extension) are built where the
# target's architecture has them.
function(aria_kernel_variants family src)
  set(variants scalar)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
    list(APPEND variants avx2 avx512)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
    list(APPEND variants neon)
    if("neondot" IN_LIST ARGN)
      list(APPEND variants neondot)
    endif()
  endif()
  set(flags_scalar "")
  set(flags_avx2 -mavx2 -mfma -mf16c)
  set(flags_avx512 -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni)
  set(flags_neon -march=armv8-a)
  set(flags_neondot -march=armv8.2-a+dotprod)
  foreach(isa ${variants})
    set(t ${family}-kernels-${isa})
    aria_add_plugin(${t} SOURCES ${src})
    string(TOUPPER ${isa} ISA)
    target_compile_definitions(${t} PRIVATE ARIA_ISA_${ISA})
    target_compile_options(${t} PRIVATE -O3 ${flags_${isa}})
    set_property(GLOBAL APPEND PROPERTY ARIA_KERNEL_TARGETS ${t})
  endforeach()
endfunction()
