// The seed snippet, runnable: reserve a vGPU of 20 TFLOPS, run three tasks in it, wait, print
// what they did, release it. Start FastGPU first (`fastgpu up`), then:
//
//   npx tsx examples/vgpu.ts
//
// The server and token come from FASTGPU_URL/FASTGPU_TOKEN or the config `fastgpu up` saved.
import { FastGPU, VirtualGPU } from '../src/sdk/index.js';

const client = new FastGPU();
const vgpu = await VirtualGPU.create(20, 'tflops', { name: 'example', client });
console.log(`reserved vGPU ${vgpu.id} (${vgpu.view.state})`);

try {
  for (let i = 1; i <= 3; i++) {
    const task = await vgpu.submit({
      name: `example-${i}`,
      command: ['sh', '-c', `echo "task ${i}: GPU $CUDA_VISIBLE_DEVICES, $FASTGPU_GPU_MILLI milli-GPU, $FASTGPU_GPU_MEMORY_MIB MiB"`],
    });
    console.log(`submitted ${task.id} (${task.name})`);
  }

  const done = await vgpu.wait({ timeoutMs: 120_000 });
  for (const t of done) {
    let output = '';
    for await (const chunk of client.tasks.history(t.id)) output += chunk.data;
    console.log(`${t.id} ${t.name}: ${t.state}, exit ${t.exitCode}: ${output.trim()}`);
  }
  if (done.some((t) => t.state !== 'SUCCEEDED')) process.exitCode = 1;
} finally {
  await vgpu.delete();
  console.log(`released vGPU ${vgpu.id}`);
}
