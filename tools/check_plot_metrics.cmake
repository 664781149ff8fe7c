# plot_metrics draws a metrics log as a PNG and an SVG, and refuses a bad one.
# usage: cmake -DPLOT=<plot_metrics> -DWORK_DIR=<dir> -P check_plot_metrics.cmake
cmake_minimum_required(VERSION 3.25)
file(MAKE_DIRECTORY ${WORK_DIR})
file(WRITE ${WORK_DIR}/run.jsonl
  "{\"step\":1,\"loss\":2.5,\"lr\":0.001}\n{\"step\":2,\"loss\":2.0,\"val_loss\":2.4}\n{\"step\":3,\"loss\":null}\n{\"step\":4,\"loss\":1.2,\"val_loss\":1.9}\n")
foreach(picture curves.png curves.svg)
  file(REMOVE ${WORK_DIR}/${picture})
  execute_process(COMMAND ${PLOT} run.jsonl ${picture} --metrics loss,val_loss --log-y
                  WORKING_DIRECTORY ${WORK_DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "2 curves" OR NOT EXISTS ${WORK_DIR}/${picture})
    message(FATAL_ERROR "plot_metrics run.jsonl ${picture} failed (${rc}): ${out}${err}")
  endif()
endforeach()
file(READ ${WORK_DIR}/curves.svg svg)
if(NOT svg MATCHES "val_loss")
  message(FATAL_ERROR "the SVG has no val_loss in its legend")
endif()
execute_process(COMMAND ${PLOT} run.jsonl bad.png --metrics accuracy WORKING_DIRECTORY ${WORK_DIR}
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "the log has no metric 'accuracy'")
  message(FATAL_ERROR "an unknown metric was not refused: ${err}")
endif()
