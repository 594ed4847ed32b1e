# The optional CUDA path (LAMINA_CUDA=ON), included by CMakeLists.txt after enable_language(CUDA)
# and before the CPU variants exist: compiles cpp/cuda/*.cu once into the object library
# lamina_cuda, which every lamina_core_<level> links (the CUDA code does not depend on the host ISA
# level), with the static CUDA runtime (the modules then load on machines without a driver) and
# cuBLAS from the nvidia-cublas wheel. Sets LAMINA_CUDA_INSTALL_RPATH for the modules.

find_package(CUDAToolkit REQUIRED)

# Static runtime for every target created from here on (lamina_cuda, the _C_<level> modules).
set(CMAKE_CUDA_RUNTIME_LIBRARY Static)

file(GLOB LAMINA_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cpp/cuda/*.cu)
add_library(lamina_cuda OBJECT ${LAMINA_CUDA_SOURCES})
target_include_directories(lamina_cuda PUBLIC cpp)
target_compile_definitions(lamina_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:LAMINA_CUDA>)
# Host flags for nvcc's host compiler only (no -march: the host side is not hot).
target_compile_options(lamina_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fno-math-errno>)
target_link_libraries(lamina_cuda PUBLIC OpenBLAS::OpenBLAS CUDA::cudart_static)
set(LAMINA_CUDA_INSTALL_RPATH "")

# cuBLAS: the nvidia-cublas wheel in the build's Python (nvidia/cu13/{include,lib}); `nvidia` is a
# namespace package, so look through every entry of its __path__. -DLAMINA_CUBLAS_ROOT=<.../nvidia/cu13>
# points at a wheel elsewhere (e.g. for an isolated pip build whose environment lacks it).
set(LAMINA_CUBLAS_ROOT "" CACHE PATH "nvidia/cu13 folder of the nvidia-cublas wheel (found via Python if empty)")
set(LAMINA_CUBLAS_SOURCE "")
set(_cublas_rc 0)
if(NOT LAMINA_CUBLAS_ROOT)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
      "import os, nvidia\nfor p in nvidia.__path__:\n    d = os.path.join(p, 'cu13')\n    if os.path.isfile(os.path.join(d, 'include', 'cublas_v2.h')):\n        print(d); break"
    OUTPUT_VARIABLE LAMINA_CUBLAS_ROOT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
    RESULT_VARIABLE _cublas_rc)
endif()
if(_cublas_rc EQUAL 0 AND LAMINA_CUBLAS_ROOT
   AND EXISTS "${LAMINA_CUBLAS_ROOT}/lib/libcublas.so.13"
   AND EXISTS "${LAMINA_CUBLAS_ROOT}/lib/libcublasLt.so.13")
  # The wheel ships only versioned .so files, so import them by full path.
  add_library(lamina_cublas SHARED IMPORTED)
  set_target_properties(lamina_cublas PROPERTIES
    IMPORTED_LOCATION "${LAMINA_CUBLAS_ROOT}/lib/libcublas.so.13"
    INTERFACE_INCLUDE_DIRECTORIES "${LAMINA_CUBLAS_ROOT}/include")
  add_library(lamina_cublasLt SHARED IMPORTED)
  set_target_properties(lamina_cublasLt PROPERTIES
    IMPORTED_LOCATION "${LAMINA_CUBLAS_ROOT}/lib/libcublasLt.so.13")
  target_link_libraries(lamina_cuda PUBLIC lamina_cublas lamina_cublasLt)
  set(LAMINA_CUBLAS_SOURCE "nvidia-cublas wheel at ${LAMINA_CUBLAS_ROOT}")
  # Installed, the modules sit in site-packages/lamina next to site-packages/nvidia/cu13/lib.
  set(LAMINA_CUDA_INSTALL_RPATH "$ORIGIN/../nvidia/cu13/lib")
elseif(TARGET CUDA::cublas)
  target_link_libraries(lamina_cuda PUBLIC CUDA::cublas)
  set(LAMINA_CUBLAS_SOURCE "CUDA toolkit (${CUDAToolkit_LIBRARY_DIR})")
else()
  message(FATAL_ERROR
    "lamina: LAMINA_CUDA=ON needs cuBLAS: `pip install nvidia-cublas` into ${Python_EXECUTABLE}'s "
    "environment (then build with --no-build-isolation), pass -DLAMINA_CUBLAS_ROOT=<site-packages>/nvidia/cu13, or "
    "install a CUDA toolkit that includes cuBLAS")
endif()

message(STATUS "lamina: CUDA ${CUDAToolkit_VERSION} (nvcc ${CMAKE_CUDA_COMPILER}), architectures "
               "${CMAKE_CUDA_ARCHITECTURES}, static runtime")
message(STATUS "lamina: cuBLAS from ${LAMINA_CUBLAS_SOURCE}")
message(STATUS "lamina: CUDA sources ${LAMINA_CUDA_SOURCES}")
