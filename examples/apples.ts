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

/** The lesson's 15-row version: the 5 farms above measured three times. */
export const APPLES15 = {
  features: APPLES.features,
  targets: APPLES.targets,
  X: [
    [73, 67, 43], [91, 88, 64], [87, 134, 58], [102, 43, 37], [69, 96, 70],
    [74, 66, 43], [91, 87, 65], [88, 134, 59], [101, 44, 37], [68, 96, 71],
    [73, 66, 44], [92, 87, 64], [87, 135, 57], [103, 43, 36], [68, 97, 70],
  ],
  Y: [
    [56, 70], [81, 101], [119, 133], [22, 37], [103, 119],
    [57, 69], [80, 102], [118, 132], [21, 38], [104, 118],
    [57, 69], [82, 100], [118, 134], [20, 38], [102, 120],
  ],
};
