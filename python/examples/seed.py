# pip install fastgpu-sdk
import fastgpu

vgpu = fastgpu.VirtualGPU.create(20, 'tflops')  # a vGPU of 20 TFLOPS
task1 = fastgpu.Task(20, 5)                     # 20 TFLOPS, runs 5 seconds
task2 = fastgpu.Task(15, 3)
task3 = fastgpu.Task(10, 2)
vgpu.submit_task(task1); vgpu.submit_task(task2); vgpu.submit_task(task3)
vgpu.wait()
print("Task 1 completed.")
