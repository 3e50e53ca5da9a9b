{
  # OpenBLAS Node-API addon. Built by scripts/build-native.mjs (npm run build:native), which checks
  # that OpenBLAS is installed first. find-openblas.cjs locates cblas.h / libopenblas
  # (env overrides PLIP_OPENBLAS_INCLUDE / PLIP_OPENBLAS_LIB, pkg-config, standard paths).
  'targets': [
    {
      'target_name': 'plip_blas',
      'sources': [ 'plip_blas.cc', 'plip_half.cc', 'plip_ops.cc', 'plip_attn.cc', 'plip_exact.cc', 'plip_exp.cc', 'plip_amx.cc', 'plip_bf16_avx512.cc', 'plip_bf16_dot.cc', 'plip_bf16_gemm.cc' ],
      'dependencies': [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except",
      ],
      'include_dirs': [
        "<!(node find-openblas.cjs include)",
      ],
      'defines': [ 'NAPI_VERSION=8' ],
      'cflags!': [ '-fno-exceptions' ],
      'cflags_cc!': [ '-fno-exceptions', '-fno-rtti', '-std=gnu++17', '-std=gnu++20' ],
      'cflags': [ '-O3', '-Wall', '-Wextra' ],
      'cflags_cc': [ '-std=c++17', '-O3', '-Wall', '-Wextra', '-fexceptions', '-ffp-contract=off' ],
      'ldflags': [ "<!@(node find-openblas.cjs ldflags)" ],
      'libraries': [ '-lopenblas' ],
      'conditions': [
        [ "target_arch=='x64'", {
          'cflags': [ '-march=x86-64-v2' ],
          'cflags_cc': [ '-march=x86-64-v2' ],
        } ],
        [ "OS=='mac'", {
          'xcode_settings': {
            'GCC_ENABLE_CPP_EXCEPTIONS': 'YES',
            'CLANG_CXX_LANGUAGE_STANDARD': 'c++17',
            'GCC_OPTIMIZATION_LEVEL': '3',
            'OTHER_CPLUSPLUSFLAGS': [ '-ffp-contract=off' ],
            'OTHER_LDFLAGS': [ "<!@(node find-openblas.cjs ldflags)" ],
          },
        } ],
      ],
    },
  ],
}
