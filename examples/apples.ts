/**
 * @file The crop-yields data from the classic "linear regression from scratch" lesson: yields of
 * apples and oranges (tons per hectare) from temperature (°F), rainfall (mm) and humidity (%).
 */
export const APPLES = {
  features: ['temperature', 'rainfall', 'humidity'],
  targets: ['apples', 'oranges'],
  X: [
    [73, 67, 43],
    [91, 88, 64],
    [87, 134, 58],
    [102, 43, 37],
    [69, 96, 70],
  ],
  Y: [
    [56, 70],
    [81, 101],
    [119, 133],
    [22, 37],
    [103, 119],
  ],
};
