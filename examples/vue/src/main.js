import { createApp } from 'vue';
// Registers every <diamond-…> element (or import one: '@diamonds/elements/gift-button/define.js').
import '@diamonds/elements/define-all.js';
import TipJar from './TipJar.vue';

createApp(TipJar).mount('#app');
