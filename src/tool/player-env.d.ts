// What the player uses of Vite's module features (vite/client's full types are not loaded).
declare module '*?raw' {
  const text: string;
  export default text;
}

interface ImportMeta {
  glob<T>(patterns: string | string[], options: { query: string; import: string; eager: true }): Record<string, T>;
}
