// Decodes the wall's JPEGs, off the page's thread: the page posts
// { id, blob } and gets back { id, bitmap } (null for a frame that does not
// decode). In a page, createImageBitmap decodes on the page's own thread.
"use strict";

onmessage = async (event) => {
  const { id, blob } = event.data;
  try {
    const bitmap = await createImageBitmap(blob);
    postMessage({ id, bitmap }, [bitmap]);
  } catch (error) {
    postMessage({ id, bitmap: null });
  }
};
