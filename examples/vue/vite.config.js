import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

export default defineConfig({
  plugins: [
    vue({
      template: {
        compilerOptions: {
          // <diamond-…> are web components: Vue renders them as they are, without looking for a Vue component.
          isCustomElement: (tag) => tag.startsWith('diamond-'),
        },
      },
    }),
  ],
});
